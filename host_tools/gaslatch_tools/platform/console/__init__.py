"""The district's web console: `gaslatch platform console` (docs/platform.md#the-web-console)."""
