"""OTLP/HTTP ingest: the `POST /v1/traces` receiver, its decoding processes, byte budget and single writer."""
