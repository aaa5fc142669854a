"""Making a possible incident a real one: the draft an operator starts from, and what the
cluster's customers are told, held to the plain-language checks."""

from __future__ import annotations

from redress.db.models import Complaint, OperatorAlert
from redress.incidents import promote
from redress.plain_language import check_text
from tests.unit.incidents.test_incidents import NOW, make

PRODUCTS = {"broadband": ("broadband", "internet", "wifi"), "tv": ("tv", "telly")}


def _alert(kind: str = "possible_incident") -> OperatorAlert:
    return OperatorAlert(
        id=7,
        kind=kind,
        summary="Possible incident",
        detail={
            "category": "outage",
            "district": "LS6",
            "complaints": ["C-1", "C-2"],
            "window_minutes": 60,
        },
    )


def test_a_possible_incident_alert_gives_its_cluster_and_other_alerts_none() -> None:
    cluster = promote.cluster_of(_alert())
    assert cluster == promote.Cluster(7, "outage", "LS6", ("C-1", "C-2"), 60)
    assert promote.cluster_of(_alert("delivery_failed")) is None


def test_the_draft_names_the_services_customers_mentioned_and_keeps_their_words() -> None:
    cluster = promote.cluster_of(_alert())
    assert cluster is not None
    complaints = [Complaint(summary="No internet since 8am."), Complaint(summary="Wifi is dead")]
    draft = promote.draft_from(cluster, complaints, "Service not working", PRODUCTS)
    assert (draft.categories, draft.areas, draft.services) == ("outage", "LS6", "Broadband")
    assert draft.title == "Service not working in LS6"
    assert draft.samples == ("No internet since 8am.", "Wifi is dead")
    assert check_text(draft.what_is_wrong) == []


def test_what_the_clusters_customers_are_told_is_plain() -> None:
    text = promote.explained_text(make(), "C-ABC123", NOW, "Europe/London")
    assert text.startswith("About the problem you told us about (reference C-ABC123)")
    assert "A cable that carries our service was cut." in text
    assert text.endswith("We'll message you here when there's news.")
    assert check_text(text) == []
