"""The MCP server: Lampion's tools for AI agents, acting only through the public API
(`lampion.client`), over stdio (`lampion mcp`) or streamable HTTP at `/mcp`."""
