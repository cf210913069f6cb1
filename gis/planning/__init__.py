"""Planning: drafts of a unit's grids (drafts), edit operations (edits) saved with undo/redo
(saving), live checks (checks, index), proposals (proposals), renumbering (renumber), review
and comparison (review), publishing (publish), plan files (io); answers are the dataclasses of
results."""
