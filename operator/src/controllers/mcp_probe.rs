//! The real [`ToolProbe`]: the data plane's own MCP client (`oblivious-tools`), so status says
//! what chat will see. Each probe connects, lists and disconnects: a probe runs every few
//! minutes, and a connection kept between them would outlive a deleted ToolServer.

use oblivious_config::ToolServer;
use oblivious_tools::{HubSettings, ServerOrigin, ToolHub};

use super::ToolProbe;

/// Lists a ToolServer's tools over Streamable HTTP (the operator starts no stdio programs).
#[derive(Debug, Default)]
pub struct McpProbe;

#[tonic::async_trait]
impl ToolProbe for McpProbe {
    async fn list_tools(&self, server: &ToolServer) -> Result<Vec<(String, String)>, String> {
        let hub = ToolHub::new(HubSettings::default());
        let listed = hub.list_tools(server, ServerOrigin::Platform).await;
        hub.shutdown().await;
        // The error's text is built for users: no URL credentials, no header values.
        let tools = listed.map_err(|error| format!("{}: {error}", error.code()))?;
        Ok(tools.into_iter().map(|tool| (tool.name, tool.description)).collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use oblivious_tools::testing::{EverythingHttp, everything_path};

    #[tokio::test]
    async fn the_probe_lists_the_allowed_tools_of_a_real_server_and_names_why_it_cannot() {
        let Some(path) = everything_path() else { return };
        let server = EverythingHttp::start(&path).await;
        let target = ToolServer {
            name: "default/everything".into(),
            url: server.url.clone(),
            allowed_tools: vec!["echo".into(), "get-sum".into()],
            ..ToolServer::default()
        };
        let tools = McpProbe.list_tools(&target).await.unwrap();
        let names: Vec<&str> = tools.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.contains(&"echo") && names.contains(&"get-sum"), "{names:?}");
        assert!(tools.iter().all(|(_, description)| !description.is_empty()));

        let gone = ToolServer { url: "http://127.0.0.1:9/mcp".into(), ..target };
        let error = McpProbe.list_tools(&gone).await.unwrap_err();
        assert!(error.starts_with("unreachable: "), "{error}");
    }
}
