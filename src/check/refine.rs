//! The loop that asks, checks and asks again: generate, post-process, check, and repair.
//!
//! Every candidate is post-processed and checked against the document as it was when the request
//! was made. When no candidate is clean, the best one goes back to the model with its problems
//! written like compiler messages, for at most `rounds` more requests within a latency budget.
//! The loop stops as soon as a candidate is clean, the budget is spent, or the document changed.

use std::time::{Duration, Instant};

use super::postprocess::{postprocess_in, PostprocessOptions, Rejection};
use super::TypedFile;
use super::{check_spliced_candidate, Before, Problem};
use crate::llm::{ChatMessage, GenerateRequest, Model, ModelError, RequestKind, Role};

/// The names of the checks a clean candidate has passed.
pub const CHECKS: [&str; 4] = ["syntax", "names", "members", "calls"];

#[derive(Debug, Clone)]
pub struct RefineOptions {
    /// Repair requests after the first answer.
    pub rounds: usize,
    /// No repair request starts after this much time has passed since the first request.
    pub latency_budget: Duration,
    pub max_lines: usize,
}

/// A post-processed candidate and what the checks found in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub text: String,
    pub problems: Vec<Problem>,
    /// The model request (1-based) that produced it.
    pub round: usize,
}

/// What happened in one round, for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundLog {
    pub round: usize,
    pub candidates: usize,
    pub clean: usize,
    /// The problems of the best candidate of the round.
    pub problems: Vec<String>,
    pub tokens: Option<u64>,
    pub elapsed: Duration,
}

#[derive(Debug, Default)]
pub struct RefineOutcome {
    /// Candidates with no problems, in the order found.
    pub clean: Vec<Checked>,
    /// The best candidate that still has problems, when no candidate was clean.
    pub best_unverified: Option<Checked>,
    /// Raw answers post-processing threw away, with the reason.
    pub dropped: Vec<(String, String)>,
    pub rounds: Vec<RoundLog>,
    /// Why the loop stopped before a clean candidate, if it did.
    pub stopped: Option<String>,
}

/// Runs the loop for a hole at `offset` in `before`. The first model request's failure is an
/// error; a failure in a repair round ends the loop with what was found so far.
#[allow(clippy::too_many_arguments)]
pub async fn refine(
    model: &dyn Model,
    first: GenerateRequest,
    before: &Before,
    offset: usize,
    typed: Option<&TypedFile>,
    options: &RefineOptions,
    still_current: &(dyn Fn() -> bool + Send + Sync),
) -> Result<RefineOutcome, ModelError> {
    let started = Instant::now();
    let postprocess = PostprocessOptions {
        max_lines: options.max_lines.max(1),
    };
    let candidate_line = before.text[..offset.min(before.text.len())]
        .matches('\n')
        .count() as u32;
    let mut outcome = RefineOutcome::default();
    let mut request = first.clone();
    let mut best: Option<Checked> = None;
    for round in 1..=options.rounds + 1 {
        let round_started = Instant::now();
        let generation = match model.generate(&request).await {
            Ok(generation) => generation,
            Err(error) if round == 1 => return Err(error),
            Err(error) => {
                outcome.stopped = Some(format!("the repair request failed: {error}"));
                break;
            }
        };
        let mut seen = Vec::new();
        let mut round_best: Option<Checked> = None;
        let mut clean = 0;
        for raw in &generation.candidates {
            let text = match postprocess_in(before, offset, raw, &postprocess) {
                // Trailing line breaks would add blank lines after the suggestion in the editor.
                Ok(text) => text.trim_end().to_string(),
                Err(rejection) => {
                    outcome
                        .dropped
                        .push((raw.clone(), describe_rejection(&rejection)));
                    continue;
                }
            };
            if seen.contains(&text) || outcome.clean.iter().any(|c| c.text == text) {
                continue;
            }
            seen.push(text.clone());
            let problems = check_spliced_candidate(before, offset, &text, typed);
            let checked = Checked {
                text,
                problems,
                round,
            };
            if checked.problems.is_empty() {
                clean += 1;
                outcome.clean.push(checked);
            } else if round_best
                .as_ref()
                .is_none_or(|b| checked.problems.len() < b.problems.len())
            {
                round_best = Some(checked);
            }
        }
        let log = RoundLog {
            round,
            candidates: generation.candidates.len(),
            clean,
            problems: round_best
                .as_ref()
                .map(|b| b.problems.iter().map(|p| p.message.clone()).collect())
                .unwrap_or_default(),
            tokens: generation.completion_tokens,
            elapsed: round_started.elapsed(),
        };
        tracing::info!(
            round,
            candidates = log.candidates,
            clean,
            problems = ?log.problems,
            tokens = ?log.tokens,
            ms = log.elapsed.as_millis() as u64,
            "check round"
        );
        outcome.rounds.push(log);
        if let Some(candidate) = round_best {
            if best
                .as_ref()
                .is_none_or(|b| candidate.problems.len() <= b.problems.len())
            {
                best = Some(candidate);
            }
        }
        if !outcome.clean.is_empty() {
            return Ok(outcome);
        }
        if round > options.rounds {
            outcome.stopped = Some(format!("no clean candidate after {round} requests"));
            break;
        }
        if started.elapsed() >= options.latency_budget {
            outcome.stopped = Some(format!(
                "the latency budget of {} ms is spent",
                options.latency_budget.as_millis()
            ));
            break;
        }
        if !still_current() {
            outcome.stopped = Some("the document changed".into());
            break;
        }
        let Some(target) = best.as_ref() else {
            // Nothing survived post-processing: ask again as before.
            continue;
        };
        request = repair_request(&first, target, candidate_line);
    }
    outcome.best_unverified = best;
    Ok(outcome)
}

/// How a chat refinement ended: an accepted answer and the request that gave it, or the reason
/// the last answer was rejected (or the loop stopped).
#[derive(Debug)]
pub enum ChatOutcome<T> {
    Accepted { value: T, round: usize },
    Rejected { reason: String },
}

/// A round of [`refine_chat`] about to ask the model, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatRound<'a> {
    /// From 1.
    pub number: usize,
    /// How many requests there can be at most.
    pub of: usize,
    /// Why the previous answer was rejected, for a repair round.
    pub rejected: Option<&'a str>,
}

/// The same loop for a chat whose answer is checked as a whole (the code actions): ask, check
/// with `verify`, and while it rejects the answer, send the model its answer with the reason, for
/// at most `options.rounds` repairs within the latency budget, stopping when the document changed.
pub async fn refine_chat<T>(
    model: &dyn Model,
    first: GenerateRequest,
    options: &RefineOptions,
    still_current: &(dyn Fn() -> bool + Send + Sync),
    on_round: &(dyn Fn(ChatRound) + Send + Sync),
    verify: &(dyn Fn(&str) -> Result<T, String> + Send + Sync),
) -> Result<ChatOutcome<T>, ModelError> {
    let started = Instant::now();
    let total = options.rounds + 1;
    let mut request = first;
    let mut last_reason = String::new();
    for round in 1..=total {
        if round > 1 {
            if !still_current() {
                return Ok(ChatOutcome::Rejected {
                    reason: "the document changed while the model answered; ask again".into(),
                });
            }
            if started.elapsed() >= options.latency_budget {
                return Ok(ChatOutcome::Rejected {
                    reason: format!(
                        "{last_reason} (no time left for another try within {} ms)",
                        options.latency_budget.as_millis()
                    ),
                });
            }
        }
        on_round(ChatRound {
            number: round,
            of: total,
            rejected: (round > 1).then_some(last_reason.as_str()),
        });
        // Give the caller a turn to report the round before the request (a local model can
        // answer within one poll).
        tokio::task::yield_now().await;
        let round_started = Instant::now();
        let generation = model.generate(&request).await?;
        let Some(answer) = generation.candidates.into_iter().next() else {
            last_reason = "the model gave an empty answer".into();
            continue;
        };
        let verdict = verify(&answer);
        tracing::info!(
            round,
            accepted = verdict.is_ok(),
            problem = verdict.as_ref().err().map(String::as_str).unwrap_or(""),
            tokens = ?generation.completion_tokens,
            ms = round_started.elapsed().as_millis() as u64,
            "check round"
        );
        match verdict {
            Ok(value) => return Ok(ChatOutcome::Accepted { value, round }),
            Err(reason) => {
                if let RequestKind::Chat { messages } = &mut request.kind {
                    messages.push(ChatMessage {
                        role: Role::Assistant,
                        content: answer,
                    });
                    messages.push(ChatMessage {
                        role: Role::User,
                        content: format!(
                            "That answer was rejected: {reason}. Answer again, in the same form, without this mistake."
                        ),
                    });
                }
                last_reason = reason;
            }
        }
    }
    Ok(ChatOutcome::Rejected {
        reason: last_reason,
    })
}

fn describe_rejection(rejection: &Rejection) -> String {
    match rejection {
        Rejection::Empty => "empty".into(),
        Rejection::RepeatsSuffix => "it only repeats the text after the cursor".into(),
        Rejection::Degenerate { line } => {
            format!("the line `{}` repeats over and over", line.trim())
        }
        Rejection::Syntax { message } => format!("it adds a syntax error: {message}"),
        Rejection::Unparsable => "the document cannot be parsed".into(),
    }
}

/// The problems of a candidate as compiler messages, with lines counted from the candidate's start.
pub fn problem_report(candidate: &Checked, candidate_line: u32) -> Vec<String> {
    candidate
        .problems
        .iter()
        .map(|problem| {
            format!(
                "line {}: {}",
                problem.line.saturating_sub(candidate_line) + 1,
                problem.message
            )
        })
        .collect()
}

/// The first request again, told what was wrong with the previous answer.
///
/// For fill-in-the-middle, the previous answer and its problems go into comment lines just above
/// the cursor's line, at its indentation, where a code model reads them as part of the file.
/// For a chat, they follow as a new user message.
pub fn repair_request(
    first: &GenerateRequest,
    candidate: &Checked,
    candidate_line: u32,
) -> GenerateRequest {
    let report = problem_report(candidate, candidate_line);
    let mut request = first.clone();
    match &mut request.kind {
        RequestKind::Infill { prefix, .. } => {
            let line_start = prefix.rfind('\n').map(|i| i + 1).unwrap_or(0);
            let current_line = &prefix[line_start..];
            let indent: String = current_line
                .chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect();
            let mut hint = format!(
                "{indent}# spackle: a previous completion here was rejected by static checks:\n"
            );
            for line in candidate.text.lines().take(12) {
                hint.push_str(&format!("{indent}#     {line}\n"));
            }
            for line in &report {
                hint.push_str(&format!("{indent}# {line}\n"));
            }
            hint.push_str(&format!("{indent}# Write a corrected completion that uses only names and members that exist.\n"));
            prefix.insert_str(line_start, &hint);
        }
        RequestKind::Chat { messages } => {
            messages.push(ChatMessage {
                role: Role::Assistant,
                content: candidate.text.clone(),
            });
            messages.push(ChatMessage {
                role: Role::User,
                content: format!(
                    "Static checks rejected that code:\n{}\nAnswer again with corrected code only.",
                    report.join("\n")
                ),
            });
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures::future::BoxFuture;

    use super::*;
    use crate::llm::{Generation, ModelResult};
    use crate::semantic::test_support::Workspace;

    /// A model that answers from a script and records what it was asked.
    struct Scripted {
        answers: Mutex<Vec<Vec<&'static str>>>,
        asked: Mutex<Vec<GenerateRequest>>,
    }

    impl Model for Scripted {
        fn generate<'a>(
            &'a self,
            request: &'a GenerateRequest,
        ) -> BoxFuture<'a, ModelResult<Generation>> {
            self.asked.lock().unwrap().push(request.clone());
            let mut answers = self.answers.lock().unwrap();
            let answer = if answers.is_empty() {
                vec!["pass"]
            } else {
                answers.remove(0)
            };
            Box::pin(async move {
                Ok(Generation {
                    candidates: answer.into_iter().map(str::to_string).collect(),
                    ..Generation::default()
                })
            })
        }

        fn describe(&self) -> String {
            "scripted".into()
        }
    }

    const MODELS: &str = "class Cart:\n    def total(self) -> float:\n        return 0.0\n";
    const DOCUMENT: &str =
        "from shop.models import Cart\n\n\ndef pay(cart: Cart) -> float:\n    \n";

    fn setup(answers: Vec<Vec<&'static str>>) -> (Scripted, Before, usize, Workspace) {
        let model = Scripted {
            answers: Mutex::new(answers),
            asked: Mutex::new(Vec::new()),
        };
        let before = Before::new(DOCUMENT).unwrap();
        let offset = DOCUMENT.len() - 1;
        let workspace = Workspace::new(&[
            ("shop/__init__.py", ""),
            ("shop/models.py", MODELS),
            ("shop/pay.py", DOCUMENT),
        ]);
        (model, before, offset, workspace)
    }

    fn request() -> GenerateRequest {
        GenerateRequest {
            kind: RequestKind::Infill {
                path: "shop/pay.py".into(),
                prefix: DOCUMENT[..DOCUMENT.len() - 1].into(),
                suffix: "\n".into(),
                context: Vec::new(),
            },
            stop: Vec::new(),
            max_tokens: 64,
            temperature: 0.2,
            candidates: 1,
        }
    }

    fn options(rounds: usize) -> RefineOptions {
        RefineOptions {
            rounds,
            latency_budget: Duration::from_secs(60),
            max_lines: 40,
        }
    }

    #[tokio::test]
    async fn a_wrong_member_goes_back_to_the_model_with_its_problem() {
        let (model, before, offset, modules) = setup(vec![
            vec!["return cart.totl()"],
            vec!["return cart.total()"],
        ]);
        let outcome = refine(
            &model,
            request(),
            &before,
            offset,
            Some(&modules.typed("shop/pay.py")),
            &options(2),
            &|| true,
        )
        .await
        .unwrap();
        assert_eq!(outcome.clean.len(), 1);
        assert_eq!(outcome.clean[0].text, "return cart.total()");
        assert_eq!(outcome.clean[0].round, 2);
        let asked = model.asked.lock().unwrap();
        assert_eq!(asked.len(), 2);
        let RequestKind::Infill { prefix, .. } = &asked[1].kind else {
            panic!("an infill request")
        };
        assert!(
            prefix.contains("#     return cart.totl()"),
            "the previous answer is quoted: {prefix}"
        );
        assert!(
            prefix.contains("line 1:") && prefix.contains("totl"),
            "the problem is reported: {prefix}"
        );
        assert!(
            prefix.ends_with("\n    "),
            "the cursor line stays last: {prefix:?}"
        );
    }

    #[tokio::test]
    async fn a_model_that_never_fixes_its_mistake_yields_nothing_clean() {
        let (model, before, offset, modules) = setup(vec![
            vec!["return cart.totl()"],
            vec!["return cart.totl()"],
            vec!["return cart.totl()"],
        ]);
        let outcome = refine(
            &model,
            request(),
            &before,
            offset,
            Some(&modules.typed("shop/pay.py")),
            &options(2),
            &|| true,
        )
        .await
        .unwrap();
        assert!(outcome.clean.is_empty());
        assert_eq!(outcome.rounds.len(), 3, "one request and two repairs");
        assert!(outcome.best_unverified.is_some());
        assert!(outcome.stopped.unwrap().contains("no clean candidate"));
    }

    #[tokio::test]
    async fn a_clean_first_answer_ends_the_loop_and_a_changed_document_stops_it() {
        let (model, before, offset, modules) = setup(vec![vec!["return cart.total()"]]);
        let outcome = refine(
            &model,
            request(),
            &before,
            offset,
            Some(&modules.typed("shop/pay.py")),
            &options(2),
            &|| true,
        )
        .await
        .unwrap();
        assert_eq!(outcome.clean.len(), 1);
        assert_eq!(model.asked.lock().unwrap().len(), 1);

        let (model, before, offset, modules) = setup(vec![
            vec!["return cart.totl()"],
            vec!["return cart.total()"],
        ]);
        let outcome = refine(
            &model,
            request(),
            &before,
            offset,
            Some(&modules.typed("shop/pay.py")),
            &options(2),
            &|| false,
        )
        .await
        .unwrap();
        assert!(outcome.clean.is_empty());
        assert_eq!(outcome.stopped.as_deref(), Some("the document changed"));
        assert_eq!(model.asked.lock().unwrap().len(), 1);
    }

    fn chat() -> GenerateRequest {
        GenerateRequest {
            kind: RequestKind::Chat {
                messages: vec![ChatMessage {
                    role: Role::User,
                    content: "Write it.".into(),
                }],
            },
            ..request()
        }
    }

    #[tokio::test]
    async fn a_chat_answer_is_repaired_with_the_reason_and_rounds_are_reported() {
        let (model, ..) = setup(vec![vec!["bad"], vec!["good"]]);
        let rounds = Mutex::new(Vec::new());
        let on_round = |round: ChatRound| {
            rounds.lock().unwrap().push((
                round.number,
                round.of,
                round.rejected.map(str::to_string),
            ))
        };
        let verify = |answer: &str| {
            if answer == "good" {
                Ok(answer.len())
            } else {
                Err(format!("`{answer}` is wrong"))
            }
        };
        let outcome = refine_chat(&model, chat(), &options(1), &|| true, &on_round, &verify)
            .await
            .unwrap();
        assert!(
            matches!(outcome, ChatOutcome::Accepted { value: 4, round: 2 }),
            "{outcome:?}"
        );
        assert_eq!(
            *rounds.lock().unwrap(),
            vec![(1, 2, None), (2, 2, Some("`bad` is wrong".to_string()))]
        );
        let asked = model.asked.lock().unwrap();
        let RequestKind::Chat { messages } = &asked[1].kind else {
            panic!("a chat request")
        };
        assert_eq!(messages[1].content, "bad");
        assert!(
            messages[2].content.contains("`bad` is wrong"),
            "{:?}",
            messages[2]
        );
    }

    #[tokio::test]
    async fn a_chat_that_never_passes_or_whose_document_changed_is_rejected_with_the_reason() {
        let (model, ..) = setup(vec![vec!["bad"], vec!["bad"]]);
        let verify = |_: &str| -> Result<(), String> { Err("still wrong".into()) };
        let outcome = refine_chat(&model, chat(), &options(1), &|| true, &|_| {}, &verify)
            .await
            .unwrap();
        assert!(
            matches!(&outcome, ChatOutcome::Rejected { reason } if reason == "still wrong"),
            "{outcome:?}"
        );
        assert_eq!(model.asked.lock().unwrap().len(), 2);

        let (model, ..) = setup(vec![vec!["bad"], vec!["good"]]);
        let outcome = refine_chat(&model, chat(), &options(1), &|| false, &|_| {}, &verify)
            .await
            .unwrap();
        assert!(
            matches!(&outcome, ChatOutcome::Rejected { reason } if reason.contains("document changed")),
            "{outcome:?}"
        );
        assert_eq!(model.asked.lock().unwrap().len(), 1);
    }
}
