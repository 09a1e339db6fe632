"""From playground to production: labels pointing at versions and promoting to them
(`labels`), the gates a promotion must pass (`gates`), the document the live bot reads
(`document`), served by the read API (`api`, described by `api_spec`) to holders of an API token
(`api_tokens`), and exported as a file (`export`, `export_args`).
"""
