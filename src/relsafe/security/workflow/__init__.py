"""The workflow audit: the parsed workflow (model), one module of rules per concern, the report; audit runs them."""
