"""BigQuery clients for an explicit REST endpoint (a local BigQuery emulator).

Beam's streaming-insert DoFn talks to BigQuery through two clients: the apitools ``BigqueryV2``
client for tables (get/create) and google-cloud-bigquery's ``Client`` for ``insertAll``. Neither
takes an endpoint from pipeline options, and both look for Google credentials. Beam lets a caller
pass one ``test_client`` object that is used as both; :class:`EndpointBigQueryClient` is that object,
built from an endpoint URL with anonymous credentials. It is only used when an endpoint is given
(``BIGQUERY_EMULATOR_HOST``, the variable Google's client libraries honour); on Dataflow no endpoint is
set and Beam's own clients with the worker's credentials are used.
"""

from __future__ import annotations

import os
import threading

EMULATOR_ENV = "BIGQUERY_EMULATOR_HOST"


def endpoint_from_env() -> str | None:
    """``http://HOST:PORT`` from BIGQUERY_EMULATOR_HOST, or None for real BigQuery."""
    host = os.environ.get(EMULATOR_ENV, "").strip()
    if not host:
        return None
    return host.rstrip("/") if "://" in host else f"http://{host}"


class EndpointBigQueryClient:
    """Both of Beam's BigQuery clients, pointed at ``endpoint`` (picklable: only the URL travels)."""

    def __init__(self, endpoint: str, project: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.project = project
        self._lock = threading.Lock()
        self._apitools = None
        self._cloud = None

    def __getstate__(self) -> dict:
        return {"endpoint": self.endpoint, "project": self.project}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["endpoint"], state["project"])

    def cloud_client(self):
        """google-cloud-bigquery Client on the endpoint, anonymous."""
        with self._lock:
            if self._cloud is None:
                from google.auth.credentials import AnonymousCredentials
                from google.cloud import bigquery

                self._cloud = bigquery.Client(
                    project=self.project, credentials=AnonymousCredentials(),
                    client_options={"api_endpoint": self.endpoint})
            return self._cloud

    def apitools_client(self):
        with self._lock:
            if self._apitools is None:
                import httplib2
                from apache_beam.io.gcp.internal.clients import bigquery as bq_api

                self._apitools = bq_api.BigqueryV2(
                    url=f"{self.endpoint}/bigquery/v2/", get_credentials=False, credentials=None,
                    http=httplib2.Http(timeout=60), response_encoding="utf8")
            return self._apitools

    # google-cloud-bigquery surface that BigQueryWrapper uses for streaming inserts.
    def insert_rows_json(self, *args, **kwargs):
        return self.cloud_client().insert_rows_json(*args, **kwargs)

    # apitools surface (tables.Get/Insert, datasets.Get, ...).
    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.apitools_client(), name)


def check_dataset(project: str, dataset: str, endpoint: str | None = None) -> None:
    """Fail before launch, with the fix, when the warehouse dataset does not exist.

    Beam creates missing tables but never the dataset; without this check the first insert would
    retry a 404 for a long time before the job fails.
    """
    from google.api_core.exceptions import NotFound

    from ..specs import OptionError

    endpoint = endpoint if endpoint is not None else endpoint_from_env()
    if endpoint:
        client = EndpointBigQueryClient(endpoint, project).cloud_client()
    else:
        from google.cloud import bigquery

        client = bigquery.Client(project=project)
    try:
        client.get_dataset(f"{project}.{dataset}")
    except NotFound as exc:
        raise OptionError(
            f"--warehouse bigquery://{project}/{dataset}: dataset not found. Create it with Terraform "
            f"(deploy/terraform) or `bq mk --dataset {project}:{dataset}`; the job creates its tables.") from exc
