"""Attacks on a real hub, made the way a user, a student or an anonymous visitor would make them:
real HTTP through the proxy, real containers, real services. One test per finding; each module starts
its own hub (its own name, ports and Docker names), so modules never share what they attack."""

from __future__ import annotations


