"""Search: the query model, the document flattening and the engines behind one interface."""
