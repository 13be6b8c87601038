"""QuickSight definitions over `customer360_golden`: a data source, a data set and a four-visual dashboard.

40_dashboards runs `ensure_quicksight` (idempotent, like 00_provision's steps, through the same `Provisioner`
plumbing: clients from `c360.aws`, `dry_run` checks every request with botocore's validator and sends nothing) and
records the ids in the outputs file, so that 99_teardown deletes them. The local emulator stores these objects
(no rendering); on AWS the account needs a QuickSight subscription, a VPC connection into the database's VPC
(the database is private) and a QuickSight user or group to own the objects.
"""

from __future__ import annotations

from c360.provision import Provisioner, _get

# customer360_golden's columns as QuickSight input columns (its types: STRING, INTEGER, DECIMAL, DATETIME, BIT)
GOLDEN_COLUMNS = {
    "customer_id": "STRING", "full_name": "STRING", "email": "STRING", "phone": "STRING", "city": "STRING",
    "state": "STRING", "country": "STRING", "loyalty_tier": "STRING", "signup_date": "DATETIME",
    "order_count": "INTEGER", "total_spend": "DECIMAL", "avg_order_value": "DECIMAL",
    "first_purchase_at": "DATETIME", "last_purchase_at": "DATETIME", "top_category": "STRING",
    "feedback_count": "INTEGER", "avg_rating": "DECIMAL", "positive_feedback": "INTEGER",
    "neutral_feedback": "INTEGER", "negative_feedback": "INTEGER", "latest_sentiment": "STRING",
    "dq_score": "DECIMAL", "updated_at": "DATETIME",
}
DATASET = "golden"  # the dashboard's identifier for the data set
PROFILE_FIELDS = ("customer_id", "full_name", "email", "city", "loyalty_tier", "order_count", "total_spend",
                  "avg_rating", "latest_sentiment", "last_purchase_at", "dq_score")

OWNER_ACTIONS = {
    "data_source": ["quicksight:DescribeDataSource", "quicksight:DescribeDataSourcePermissions",
                    "quicksight:PassDataSource", "quicksight:UpdateDataSource", "quicksight:DeleteDataSource",
                    "quicksight:UpdateDataSourcePermissions"],
    "data_set": ["quicksight:DescribeDataSet", "quicksight:DescribeDataSetPermissions", "quicksight:PassDataSet",
                 "quicksight:DescribeIngestion", "quicksight:ListIngestions", "quicksight:UpdateDataSet",
                 "quicksight:DeleteDataSet", "quicksight:CreateIngestion", "quicksight:CancelIngestion",
                 "quicksight:UpdateDataSetPermissions"],
    "dashboard": ["quicksight:DescribeDashboard", "quicksight:ListDashboardVersions",
                  "quicksight:UpdateDashboardPermissions", "quicksight:QueryDashboard", "quicksight:UpdateDashboard",
                  "quicksight:DeleteDashboard", "quicksight:DescribeDashboardPermissions",
                  "quicksight:UpdateDashboardPublishedVersion"],
}


def _column(name: str) -> dict:
    return {"DataSetIdentifier": DATASET, "ColumnName": name}


def _measure(field_id: str, column: str, how: str) -> dict:
    return {"NumericalMeasureField": {"FieldId": field_id, "Column": _column(column),
                                      "AggregationFunction": {"SimpleNumericalAggregation": how}}}


def _dimension(field_id: str, column: str) -> dict:
    return {"CategoricalDimensionField": {"FieldId": field_id, "Column": _column(column)}}


def _title(text: str) -> dict:
    return {"Visibility": "VISIBLE", "FormatText": {"PlainText": text}}


def dashboard_definition(data_set_arn: str) -> dict:
    """The four views over the golden table: spend by loyalty tier, average rating, sentiment, profiles."""
    visuals = [
        {"BarChartVisual": {"VisualId": "total-spend", "Title": _title("Total spend by loyalty tier (USD)"),
                            "ChartConfiguration": {"FieldWells": {"BarChartAggregatedFieldWells": {
                                "Category": [_dimension("tier", "loyalty_tier")],
                                "Values": [_measure("spend", "total_spend", "SUM")]}}}}},
        {"KPIVisual": {"VisualId": "average-rating", "Title": _title("Average rating"),
                       "ChartConfiguration": {"FieldWells": {
                           "Values": [_measure("rating", "avg_rating", "AVERAGE")]}}}},
        {"PieChartVisual": {"VisualId": "sentiment", "Title": _title("Latest sentiment per customer"),
                            "ChartConfiguration": {"FieldWells": {"PieChartAggregatedFieldWells": {
                                "Category": [_dimension("sentiment", "latest_sentiment")],
                                "Values": [{"CategoricalMeasureField": {
                                    "FieldId": "customers", "Column": _column("customer_id"),
                                    "AggregationFunction": "DISTINCT_COUNT"}}]}}}}},
        {"TableVisual": {"VisualId": "profiles", "Title": _title("Customer profiles"),
                         "ChartConfiguration": {"FieldWells": {"TableUnaggregatedFieldWells": {
                             "Values": [{"FieldId": f"profile-{c}", "Column": _column(c)} for c in PROFILE_FIELDS]}}}}},
    ]
    return {"DataSetIdentifierDeclarations": [{"Identifier": DATASET, "DataSetArn": data_set_arn}],
            "Sheets": [{"SheetId": "customer360", "Name": "Customer 360", "Visuals": visuals}]}


def ensure_quicksight(p: Provisioner, principal_arn: str = "", vpc_connection_arn: str = "") -> dict:
    """Create what is missing; returns the ids to record under outputs["quicksight"]."""
    qs = p.client("quicksight")
    account, o = p.account, p.outputs
    if p.settings.target == "aws" and not p.dry_run and not (principal_arn and vpc_connection_arn):
        raise ValueError("target aws needs quicksight_principal_arn (a QuickSight user or group) and "
                         "quicksight_vpc_connection_arn (a VPC connection into the database's VPC)")
    principal = principal_arn or p.arn("quicksight", "user/default/c360-admin")

    def permissions(kind: str) -> list[dict]:
        return [{"Principal": principal, "Actions": OWNER_ACTIONS[kind]}]

    ids = {"data_sources": [p.cfg.name("golden-source")], "data_sets": [p.cfg.name("golden")],
           "dashboards": [p.cfg.name("customer360")]}
    source_id, set_id, dash_id = ids["data_sources"][0], ids["data_sets"][0], ids["dashboards"][0]

    tags = [{"Key": k, "Value": v} for k, v in p.cfg.tags.items()]

    def ensure(kind: str, ident: str, describe, create, arn_path: str, detail: str) -> str:
        """The object's ARN: described when it exists ("unchanged"), else created ("created")."""
        found = _get(describe)
        if found is not None:
            p.record(f"quicksight {kind}", ident, "unchanged", found["Arn"])
            return found["Arn"]
        arn = create().get("Arn") or p.arn("quicksight", arn_path)  # a dry run answers without an ARN
        p.record(f"quicksight {kind}", ident, "created", arn, detail)
        return arn

    source = {"AwsAccountId": account, "DataSourceId": source_id, "Name": "Customer 360 database",
              "Type": "POSTGRESQL",
              "DataSourceParameters": {"RdsParameters": {"InstanceId": o.get("db_instance", p.cfg.db_instance),
                                                         "Database": p.cfg.db_name}},
              "Credentials": {"SecretArn": o.get("secret_arn") or p.arn("secretsmanager",
                                                                       f"secret:{p.cfg.name('rds-master')}")},
              "Permissions": permissions("data_source"), "SslProperties": {"DisableSsl": False}, "Tags": tags}
    if vpc_connection_arn:
        source["VpcConnectionProperties"] = {"VpcConnectionArn": vpc_connection_arn}
    source_arn = ensure("data source", source_id,
                        lambda: qs.describe_data_source(AwsAccountId=account, DataSourceId=source_id)["DataSource"],
                        lambda: qs.create_data_source(**source), f"datasource/{source_id}",
                        "PostgreSQL via the RDS secret")
    set_arn = ensure("data set", set_id,
                     lambda: qs.describe_data_set(AwsAccountId=account, DataSetId=set_id)["DataSet"],
                     lambda: qs.create_data_set(
                         AwsAccountId=account, DataSetId=set_id, Name="customer360_golden", ImportMode="DIRECT_QUERY",
                         PhysicalTableMap={"golden": {"RelationalTable": {
                             "DataSourceArn": source_arn, "Schema": "public", "Name": "customer360_golden",
                             "InputColumns": [{"Name": c, "Type": t} for c, t in GOLDEN_COLUMNS.items()]}}},
                         Permissions=permissions("data_set"), Tags=tags),
                     f"dataset/{set_id}", "customer360_golden, direct query")
    ensure("dashboard", dash_id,
           lambda: qs.describe_dashboard(AwsAccountId=account, DashboardId=dash_id)["Dashboard"],
           lambda: qs.create_dashboard(AwsAccountId=account, DashboardId=dash_id, Name="Customer 360",
                                       Definition=dashboard_definition(set_arn), Permissions=permissions("dashboard"),
                                       Tags=tags),
           f"dashboard/{dash_id}", "spend, rating, sentiment, profiles")
    return ids
