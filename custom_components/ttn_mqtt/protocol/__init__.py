"""The Things Stack v3 MQTT protocol, with no Home Assistant imports.

Topics, IDs, uplink and event parsing into typed dataclasses, downlink building and the
MQTT session. It could be published on its own; the Home Assistant layer one folder up uses it.
"""
