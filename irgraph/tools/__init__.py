"""Command-line tools: `irgraph inspect`, `irgraph export`."""
