"""Topologies: each emits a CommGraph for a task item; none calls an LLM."""
