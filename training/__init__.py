"""Trainers: topology (REINFORCE), Optima (SFT/DPO) and Trace (OptoPrime-style)."""
