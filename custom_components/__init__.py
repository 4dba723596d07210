"""Custom integrations: lets the test harness import ours before its own testing_config package."""
