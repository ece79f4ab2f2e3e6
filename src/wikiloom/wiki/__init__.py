"""The outside world of wikis: the MediaWiki Action API and the registry of wikis."""
