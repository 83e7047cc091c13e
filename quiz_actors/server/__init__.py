"""The aiohttp side: app factory, socket bridge, HTTP API and web pages."""
