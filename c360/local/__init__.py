"""The local AWS stack: moto's server on 127.0.0.1, extended where moto only stores metadata.

- stack.py            `c360 local up | down | status | reset`: the launcher
- server.py           the emulator process (moto + the extensions below)
- emulator_context.py what the extensions share: state folder, endpoint for children, clock speed
- iam.py              every request authorized against its caller's IAM policies; the roles the runners act as
- iam_fs.py           Spark's S3 requests in a Glue run checked as the job's role (java/IamCheckedFileSystem.java)
- s3_consistency.py   S3 reads racing a DELETE get the whole version or 404, never 500
- s3_events.py        S3 event records carry versionId and sequencer, as on AWS
- lambda_runner.py    Lambda invokes run the real code; async retries, DLQ / destinations, logs, metrics
- lambda_bootstrap.py the child process that runs one Lambda invocation
- glue_runner.py      Glue runs execute the script with local Spark over staged S3
- eventbridge.py      rules deliver to SNS and Lambda targets
- alarms.py           CloudWatch metric alarms are evaluated and notify SNS
- mailbox.py          SNS e-mail subscriptions deliver into a local Maildir
- rds.py              RDS postgres instances are real local PostgreSQL servers
- persistence.py      S3 objects and DynamoDB items survive down / up
"""
