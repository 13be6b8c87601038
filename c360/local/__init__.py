"""The local AWS stack: the emulator launcher and one module per extension (Lambda, Glue, RDS, ...).

Not built yet: issue 3 ("Local AWS stack that really runs the pipeline") fills this package in.
`c360 local ...` says so instead of pretending.
"""

NOT_BUILT = (
    "the local AWS stack (emulator, Lambda/Glue/RDS extensions) is not built yet: "
    "it is the next issue (3). Nothing was started."
)
