"""Who published a file: the Trusted Publisher named in an index's PEP 740 provenance."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from relsafe.core.errors import StepFailed
from relsafe.tools.index.simple_api import open_url, user_agent


@dataclass(frozen=True)
class Publisher:
    """Who published a file, as its PEP 740 provenance says: a Trusted Publisher's identity."""

    kind: str
    repository: str
    workflow: str

    def __str__(self) -> str:
        return f"{self.kind} {self.repository}, workflow {self.workflow}"


def provenance_publishers(url: str) -> list[Publisher]:
    """The publishers a file's provenance names (PEP 740: one per attestation bundle)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": user_agent()})
    try:
        with open_url(request) as response:
            document = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        raise StepFailed(f"the index answered {error.code} {error.reason} for the provenance at {url}") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise StepFailed(f"the provenance at {url} is not JSON: {error}") from error
    publishers = []
    for bundle in document.get("attestation_bundles", []) if isinstance(document, dict) else []:
        publisher = bundle.get("publisher") if isinstance(bundle, dict) else None
        if not isinstance(publisher, dict):
            raise StepFailed(f"the provenance at {url} has an attestation bundle without a publisher")
        publishers.append(
            Publisher(
                str(publisher.get("kind", "")), str(publisher.get("repository", "")), str(publisher.get("workflow", ""))
            )
        )
    return publishers
