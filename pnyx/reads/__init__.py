"""Reads: one function per thing a front end shows, returning typed views (``to_json``).

``trust_report`` and ``suggest`` (``pnyx.reads.trust``) read the user's web of trust built from
the store's follows; ``search`` (``pnyx.reads.search``) ranks full-text matches by relevance and
the author's trust; ``ranked_timeline``, ``why`` and ``clusters`` (``pnyx.reads.feed``) run the
feed recipes (``pnyx.reads.recipes``: built-ins and the user's files). Each takes a ``Store`` and
the user's public key; the CLI (and later the web app) only parses arguments and prints. Layer 3:
imports the store, trust and rank cores, views.
"""

from pnyx.reads.coacting import ClustersView, clusters
from pnyx.reads.feed import (
    RankedItem,
    RankedPage,
    Source,
    WhyView,
    ranked_timeline,
    why,
)
from pnyx.reads.network import SyncProgress, invite_text, sync_progress
from pnyx.reads.notify import Notification, notifications
from pnyx.reads.profile import ProfileView, profile
from pnyx.reads.recipes import Feed, feeds
from pnyx.reads.search import SearchHit, SearchResults, search
from pnyx.reads.trust import Suggestion, TrustView, suggest, trust_report

__all__ = [
    "ClustersView",
    "Feed",
    "RankedItem",
    "RankedPage",
    "SyncProgress",
    "sync_progress",
    "invite_text",
    "Notification",
    "ProfileView",
    "notifications",
    "profile",
    "SearchHit",
    "SearchResults",
    "Source",
    "Suggestion",
    "TrustView",
    "WhyView",
    "clusters",
    "feeds",
    "ranked_timeline",
    "search",
    "suggest",
    "trust_report",
    "why",
]
