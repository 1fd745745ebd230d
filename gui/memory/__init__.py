"""The Memory panel: tensor memory plans (arena chart, live bytes, planner/runtime table)."""
