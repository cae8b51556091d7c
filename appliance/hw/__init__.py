"""Hardware ports (camera, LED, button) with real back-ends and in-package fakes."""
