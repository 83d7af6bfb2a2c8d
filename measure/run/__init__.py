"""Running a model over data: where and in which precision (`device`), the content-keyed, chunked cache of
per-example results (`cache`), batched inference into it (`inference`), and writing files atomically and
records JSON-safe (`files`). Importing any of these imports no torch."""
