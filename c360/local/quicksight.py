"""QuickSight extension: the delete and describe calls that 99_teardown needs and moto lacks.

moto 5.2.5 stores data sources, data sets and dashboards (create, describe dashboard, delete data source) but has
no `DeleteDashboard`, `DeleteDataSet` or `DescribeDataSet` (not even a route to a data set's path); without them
40_dashboards could not tell an existing data set from a missing one, and the teardown of its objects could not be
tested locally. Each is added to moto's routes, backend and response class, answering as AWS documents.
"""

from __future__ import annotations

import json

from c360.local.emulator_context import EmulatorContext


def _not_found(kind: str, ident: str):
    from moto.quicksight.exceptions import ResourceNotFoundException

    return ResourceNotFoundException(f"{kind} {ident} not found")


def install(ctx: EmulatorContext) -> None:
    from moto.quicksight import urls
    from moto.quicksight.models import QuickSightBackend
    from moto.quicksight.responses import QuickSightResponse

    # moto routes only /data-sets and its ingestions: add the data set's own path (describe, delete)
    urls.url_paths.setdefault(r"{0}/accounts/(?P<account_id>[\d]+)/data-sets/(?P<datasetid>[^/.]+)$",
                              QuickSightResponse.dispatch)

    def delete_dashboard(self, aws_account_id: str, dashboard_id: str):
        found = self.dashboards.pop(dashboard_id, None)
        if found is None:
            raise _not_found("dashboard", dashboard_id)
        return found

    def delete_data_set(self, aws_account_id: str, data_set_id: str):
        found = self.data_sets.pop(data_set_id, None)
        if found is None:
            raise _not_found("data set", data_set_id)
        return found

    def describe_data_set(self, aws_account_id: str, data_set_id: str):
        found = self.data_sets.get(data_set_id)
        if found is None:
            raise _not_found("data set", data_set_id)
        return found

    def delete_dashboard_response(self) -> str:
        d = self.quicksight_backend.delete_dashboard(self._get_param("AwsAccountId"), self._get_param("DashboardId"))
        return json.dumps({"Arn": d.arn, "DashboardId": d.dashboard_id, "RequestId": "request_id", "Status": 200})

    def delete_data_set_response(self) -> str:
        d = self.quicksight_backend.delete_data_set(self._get_param("AwsAccountId"), self._get_param("DataSetId"))
        return json.dumps({"Arn": d.arn, "DataSetId": d._id, "RequestId": "request_id", "Status": 200})

    def describe_data_set_response(self) -> str:
        d = self.quicksight_backend.describe_data_set(self._get_param("AwsAccountId"), self._get_param("DataSetId"))
        return json.dumps({"DataSet": {"Arn": d.arn, "DataSetId": d._id, "Name": d.name},
                           "RequestId": "request_id", "Status": 200})

    QuickSightBackend.delete_dashboard = delete_dashboard
    QuickSightBackend.delete_data_set = delete_data_set
    QuickSightBackend.describe_data_set = describe_data_set
    QuickSightResponse.delete_dashboard = delete_dashboard_response
    QuickSightResponse.delete_data_set = delete_data_set_response
    QuickSightResponse.describe_data_set = describe_data_set_response
