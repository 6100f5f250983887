"""Contact estimation: VLM reasoning and multi-view localization of per-vertex contact."""
