"""What relsafe knows about a project and a release.

Configuration, project facts, versions, tags, index URLs, the manifest and the publish workflow it renders:
pure facts and rules, no processes, no network.
"""
