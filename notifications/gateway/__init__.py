"""A local SMS gateway for development, the demo and the tests.

It speaks the portal's SMS gateway protocol (docs/notifications.md):

- ``POST /api/v1/messages`` (``Authorization: Bearer <token>``) takes
  ``{"messages": [{"ref", "to", "text"}]}`` and answers, per message,
  ``{"ref", "id", "status": "accepted" | "rejected", "parts", "error"}``;
- ``GET /api/v1/messages?ref=..&ref=..`` answers what it knows of those
  references (the portal asks when an answer never came);
- it posts delivery receipts ``{"receipts": [{"id", "ref", "status", "at"}]}``
  to the portal's receipts endpoint, and citizens' replies
  ``{"id", "from", "text"}`` to its inbound endpoint, with the same token;
- ``POST /control`` tells it to fail, slow down or time out; ``GET /``
  lists the messages and lets a demo user answer one.

Every accepted request is recorded, duplicates included: the tests count
what arrived to prove the portal sent nothing twice.
"""

from .server import GatewayServer  # noqa: F401
