"""Output for people: consoles, tables, graphs, the batch report. Nothing here computes."""
