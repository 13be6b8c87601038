"""Customer 360 Workbook: the workbench that builds, runs and tests the pipeline."""
