"""The local stack: the embedded emulator, the deploy of template.yaml into it, and the runtime
that drives every trigger the template declares."""
