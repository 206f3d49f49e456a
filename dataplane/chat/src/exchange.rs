//! Starting a reply — for a send, an edit (a new branch) or a regeneration (a new sibling) —
//! the same way every time: check the model and the balance, write the exchange in one
//! transaction, build the prompt, open the stream and start the job. A refusal writes nothing.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use oblivious_core::lane::LaneContext;
use oblivious_gateway::{ApiResult, ProductError, UserIdentity};
use oblivious_store::chat::{
    ChatMessage, ChatSession, ExchangeParent, ExchangeStart, FinalMessage, NewTurn, StartedExchange,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::catalog::{catalog_agent, group_may_use};
use crate::context::{MAX_HISTORY_MESSAGES, build_messages, context_window};
use crate::job::{self, JobSpec};
use crate::sources::{self, Retrieval};
use crate::titles::provisional_title;
use crate::tools::ToolGrant;
use crate::topic_files::TopicFiles;
use crate::views::{TopicView, message_view};
use crate::{Chat, views};

/// What to start.
pub struct Exchange<'a> {
    pub session: &'a ChatSession,
    pub topic_id: Option<Uuid>,
    pub parent: ExchangeParent,
    /// The user's new message; `None` when regenerating.
    pub user_text: Option<String>,
    /// The files attached to it, resolved (`attachments::resolve`).
    pub attachments: Value,
    /// A model other than the session's, for this reply only.
    pub model: Option<String>,
}

/// Starts the exchange and answers `{topic, user_message?, assistant_message, stream_id}`.
pub async fn start(
    chat: &Arc<Chat>,
    identity: &UserIdentity,
    headers: &HeaderMap,
    exchange: Exchange<'_>,
) -> ApiResult<Value> {
    let user = &identity.user;
    let model = exchange.model.clone().filter(|m| !m.is_empty()).unwrap_or_else(|| exchange.session.model.clone());
    check_model_and_balance(chat, user, &model)?;
    let new_topic = exchange.topic_id.is_none();
    let start = ExchangeStart {
        user_id: user.id,
        session_id: exchange.session.id,
        topic_id: exchange.topic_id,
        new_topic_title: exchange.user_text.as_deref().map_or_else(|| "New topic".into(), provisional_title),
        parent: exchange.parent,
        user_turn: exchange
            .user_text
            .clone()
            .map(|content| NewTurn { content, attachments: exchange.attachments.clone() }),
        model: model.clone(),
    };
    let started = chat.store().start_chat_exchange(&start).await.map_err(not_found_or_store)?;
    let lane = LaneContext::from_headers(headers);
    crate::topic_files::add_documents(chat, user, exchange.session, started.topic.id, &exchange.attachments, &lane)
        .await;
    let reply = started.assistant_message.id;
    match prompt(chat, exchange.session, &started, &model, &user.group).await {
        Ok(Prompt { request, retrieval, fallback_models, tools }) => {
            // A question of files alone keeps its provisional title.
            let title_from = match (&exchange.user_text, new_topic) {
                (Some(question), true) if !question.trim().is_empty() => Some((started.topic.id, question.clone())),
                _ => None,
            };
            let spec = JobSpec {
                message_id: reply,
                user_id: user.id,
                group: user.group.clone(),
                model,
                fallback_models,
                request,
                lane,
                title_from,
                retrieval,
                tools,
            };
            if let Err(error) = chat.bus.open(reply).await {
                tracing::warn!(%error, "cannot open the stream on the bus; readers will use the stored reply");
            }
            let stop = chat.bus.jobs().register(reply);
            chat.lifecycle.spawn_job(job::run(chat.clone(), spec, stop));
        }
        Err(error) => {
            // The exchange is written; end its placeholder rather than leave it streaming.
            let failed = FinalMessage {
                status: "error".into(),
                error_code: Some(error.code.to_string()),
                error_message: Some(error.message.clone()),
                sources: json!([]),
                ..FinalMessage::default()
            };
            let _ = chat.store().finalize_chat_message(reply, &failed).await;
            return Err(error);
        }
    }
    respond(chat, user.id, &started).await
}

/// 404 for a model the user's group cannot use, 402 for an empty balance on a priced model.
fn check_model_and_balance(chat: &Chat, user: &oblivious_store::UserRecord, model: &str) -> ApiResult<()> {
    let active = chat.gateway.runtime.active();
    if !group_may_use(&active, &user.group, model) {
        return Err(ProductError::new(
            StatusCode::NOT_FOUND,
            "model_not_found",
            format!("The model `{model}` does not exist or you do not have access to it."),
        ));
    }
    let priced = active.snapshot.price(model, oblivious_store::now_ms()).is_some_and(|p| p.input > 0 || p.output > 0);
    if priced && user.balance_micros <= 0 {
        return Err(ProductError::new(
            StatusCode::PAYMENT_REQUIRED,
            "insufficient_quota",
            "Your balance is used up. Redeem a code or ask an administrator to top it up.",
        ));
    }
    Ok(())
}

fn not_found_or_store(error: oblivious_store::StoreError) -> ProductError {
    match error {
        oblivious_store::StoreError::NotFound(what) => ProductError::not_found(what),
        other => ProductError::store(other),
    }
}

/// What a reply is generated from.
struct Prompt {
    /// The Chat Completions request.
    request: Value,
    retrieval: Option<Retrieval>,
    /// Models to try when the reply's model fails before answering.
    fallback_models: Vec<String>,
    /// The MCP tools the reply may call (the catalog agent's).
    tools: Vec<ToolGrant>,
}

/// The Chat Completions request for the reply (the branch up to the placeholder's parent), and
/// what to retrieve for it: the knowledge bases of the session, its agent and its topic that
/// hold anything, searched for the question being answered (the branch's last user message).
/// A session made from a catalog agent takes the agent's sampling parameters and fallback
/// models as the `Agent` resource says *now*, so an edit applies from the next reply.
async fn prompt(
    chat: &Chat,
    session: &ChatSession,
    started: &StartedExchange,
    model: &str,
    group: &str,
) -> ApiResult<Prompt> {
    let history: Vec<ChatMessage> = match started.assistant_message.parent_id {
        Some(parent) => chat.store().chat_branch_to(started.topic.id, parent, MAX_HISTORY_MESSAGES).await?,
        None => Vec::new(),
    };
    let topic = TopicFiles::of(chat, session.user_id, started.topic.id).await?;
    let attached = crate::attachments::load(chat, &history, &topic).await;
    let messages = build_messages(&session.system_prompt, &history, &attached, context_window(model));
    let mut request = json!({"model": model, "messages": messages});
    if let Some(temperature) = views::temperature(session.temperature_milli) {
        request["temperature"] = json!(temperature);
    }
    let active = chat.gateway.runtime.active();
    let agent = session.agent_id.and_then(|id| catalog_agent(&active.snapshot, id));
    let mut tools = crate::tools::grants(&active.snapshot, agent, group);
    if !session.tools.is_empty() {
        let own = crate::tools::own_servers(chat, session.user_id).await?;
        for grant in crate::tools::session_grants(&active.snapshot, &session.tools, own.as_deref(), group) {
            if !tools.contains(&grant) {
                tools.push(grant);
            }
        }
    }
    // Clients of servers no longer configured are closed (a stdio child stops).
    chat.tools.retain(&active.snapshot.tool_servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>());
    let mut fallback_models = Vec::new();
    if let Some(agent) = agent {
        if let Some(top_p) = agent.top_p_milli {
            request["top_p"] = json!(f64::from(top_p) / 1000.0);
        }
        if let Some(max_tokens) = agent.max_tokens {
            request["max_tokens"] = json!(max_tokens);
        }
        fallback_models = agent
            .fallback_models
            .iter()
            .filter(|m| m.as_str() != model && group_may_use(&active, group, m))
            .cloned()
            .collect();
    }
    let question = history
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(|m| m.content.clone())
        .filter(|question| !question.trim().is_empty());
    let retrieval = match (question, &chat.rag) {
        (Some(query), Some(_)) => {
            let bases = sources::knowledge_bases(chat, session, topic.base).await?;
            (!bases.is_empty()).then_some(Retrieval { bases, query })
        }
        _ => None,
    };
    Ok(Prompt { request, retrieval, fallback_models, tools })
}

async fn respond(chat: &Chat, user_id: Uuid, started: &StartedExchange) -> ApiResult<Value> {
    let with_siblings = |message: &ChatMessage| {
        let message = message.clone();
        async move {
            let siblings = chat.store().chat_message_siblings(user_id, message.id).await?;
            Ok::<Value, ProductError>(message_view(&message, siblings.as_ref()))
        }
    };
    let user_message = match &started.user_message {
        Some(message) => with_siblings(message).await?,
        None => Value::Null,
    };
    Ok(json!({
        "topic": TopicView::from(&started.topic),
        "user_message": user_message,
        "assistant_message": with_siblings(&started.assistant_message).await?,
        "stream_id": started.assistant_message.id,
    }))
}
