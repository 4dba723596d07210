"""Tests for the ttn_mqtt integration and its simulated TTN application."""
