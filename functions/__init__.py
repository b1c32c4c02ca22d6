"""Lambda entry points: one package per trigger. They only translate trigger ⇄ domain call."""
