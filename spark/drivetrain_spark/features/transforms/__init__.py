"""One module per feature view transform: `transform(inputs) -> DataFrame`.

Each module's source (and that of the sibling modules it imports) is hashed into its view's
version by the registry build, so editing a transform recomputes exactly the views using it.
A transform returns the view's join keys, `event_timestamp` and its features, nothing else.
"""
