"""The CrossGuard policy pack CI previews run (``pulumi preview --policy-pack policy``)."""
