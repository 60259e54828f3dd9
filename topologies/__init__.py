"""Topologies: each designs a CommGraph for a query; none calls an LLM.

Fixed shapes live in `fixed`; learned ones (G-Designer, CommFormer) are torch modules keeping
the `learned.LearnedTopology` contract, saved to files and named `KIND:PATH`. Both registries
and `resolve` are in `registry`.
"""
