//! The store contract suite on both backends: `embedded::*` and `aws::*` (DynamoDB and SQS
//! through moto_server on loopback).

macro_rules! contract {
    ($backend:ident, $make:expr, [$($case:ident),* $(,)?]) => {
        mod $backend {
            use atlas_tests::{Backend, contract};
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    #[allow(clippy::redundant_closure_call)]
                    let b: Backend = ($make)().await;
                    contract::$case(b).await;
                }
            )*
        }
    };
}

macro_rules! both {
    ([$($case:ident),* $(,)?]) => {
        contract!(embedded, || async { Backend::embedded() }, [$($case),*]);
        contract!(aws, Backend::aws, [$($case),*]);
    };
}

both!([
    put_get_roundtrip,
    conditional_create_twice_is_a_conflict,
    conditional_update_and_delete,
    query_sort_key_conditions_both_directions,
    paging_over_1000_items_returns_each_exactly_once,
    gsi1_query_pages_and_filters,
    bad_cursor_is_refused,
    transaction_with_one_failing_condition_writes_nothing,
    transaction_limits_are_enforced,
    atomic_counters_do_not_lose_increments,
    concurrent_writes_each_stand_alone,
    large_payloads_round_trip,
    reserved_attributes_are_refused,
    consumed_units_follow_dynamodb_rules,
    queue_send_receive_delete,
    undeleted_message_reappears_after_visibility_timeout,
    message_received_n_times_lands_in_dead_letter_queue,
    delayed_message_is_hidden_until_due,
    visibility_can_be_extended,
    oversized_message_is_refused,
]);
