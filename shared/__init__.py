"""Omnireach's importable library: the domain, its ports and its adapters. Never an entry point."""
