"""Known-wrong implementations: each is the reference solution with one deliberate mistake."""
