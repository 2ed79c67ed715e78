//! The columns of each Stripe stream, as `field:kind` words (see [`super::schema`]):
//! `t` text, `i` bigint (amounts, counts), `ts` Unix time → timestamptz, `b` boolean,
//! `n` numeric (decimals, percentages), `j` jsonb (metadata, lists of objects, objects
//! nested deeper than one level), `a` text[] (lists of strings), `r` a reference to another
//! object, stored as `<field>_id`. `obj.field` is a field of a one-level object, flattened to
//! `obj_field`. Fields Stripe adds later become columns when they first appear.

pub const STREAMS: &[(&str, &str)] = &[
    (
        "customer",
        "address.city:t address.country:t address.line1:t address.line2:t \
         address.postal_code:t address.state:t balance:i created:ts currency:t \
         default_source:r delinquent:b description:t discount:j email:t invoice_prefix:t \
         invoice_settings:j livemode:b metadata:j name:t next_invoice_sequence:i object:t \
         phone:t preferred_locales:a tax_exempt:t test_clock:r",
    ),
    (
        "product",
        "active:b created:ts default_price:r description:t images:a livemode:b \
         marketing_features:j metadata:j name:t object:t package_dimensions.height:n \
         package_dimensions.length:n package_dimensions.weight:n package_dimensions.width:n \
         shippable:b statement_descriptor:t tax_code:r type:t unit_label:t updated:ts url:t",
    ),
    (
        "price",
        "active:b billing_scheme:t created:ts currency:t custom_unit_amount.maximum:i \
         custom_unit_amount.minimum:i custom_unit_amount.preset:i livemode:b lookup_key:t \
         metadata:j nickname:t object:t product:r recurring.interval:t \
         recurring.interval_count:i recurring.meter:t recurring.trial_period_days:i \
         recurring.usage_type:t tax_behavior:t tiers_mode:t transform_quantity.divide_by:i \
         transform_quantity.round:t type:t unit_amount:i unit_amount_decimal:n",
    ),
    (
        "plan",
        "active:b amount:i amount_decimal:n billing_scheme:t created:ts currency:t interval:t \
         interval_count:i livemode:b metadata:j meter:t nickname:t object:t product:r \
         tiers_mode:t transform_usage.divide_by:i transform_usage.round:t trial_period_days:i \
         usage_type:t",
    ),
    (
        "coupon",
        "amount_off:i created:ts currency:t duration:t duration_in_months:i livemode:b \
         max_redemptions:i metadata:j name:t object:t percent_off:n redeem_by:ts \
         times_redeemed:i valid:b",
    ),
    (
        "subscription",
        "application:r application_fee_percent:n automatic_tax:j billing_cycle_anchor:ts \
         billing_cycle_anchor_config.day_of_month:i billing_cycle_anchor_config.hour:i \
         billing_cycle_anchor_config.minute:i billing_cycle_anchor_config.month:i \
         billing_cycle_anchor_config.second:i billing_mode:j billing_schedules:j \
         billing_thresholds.amount_gte:i billing_thresholds.reset_billing_cycle_anchor:b \
         cancel_at:ts cancel_at_period_end:b canceled_at:ts cancellation_details.comment:t \
         cancellation_details.feedback:t cancellation_details.reason:t collection_method:t \
         created:ts currency:t customer:r customer_account:t days_until_due:i \
         default_payment_method:r default_source:r default_tax_rates:j description:t \
         discounts:j ended_at:ts invoice_settings:j latest_invoice:r livemode:b \
         managed_payments.enabled:b metadata:j next_pending_invoice_item_invoice:ts object:t \
         on_behalf_of:r pause_collection.behavior:t pause_collection.resumes_at:ts \
         payment_settings:j pending_invoice_item_interval.interval:t \
         pending_invoice_item_interval.interval_count:i pending_setup_intent:r \
         pending_update:j schedule:r start_date:ts status:t test_clock:r transfer_data:j \
         trial_end:ts trial_settings:j trial_start:ts",
    ),
    (
        "subscription_item",
        "billing_thresholds.usage_gte:i created:ts current_period_end:ts \
         current_period_start:ts discounts:j metadata:j object:t plan:j price:j quantity:i \
         subscription:r tax_rates:j",
    ),
    (
        "invoice",
        "account_country:t account_name:t account_tax_ids:j amount_due:i amount_overpaid:i \
         amount_paid:i amount_remaining:i amount_shipping:i application:r attempt_count:i \
         attempted:b auto_advance:b automatic_tax:j automatically_finalizes_at:ts \
         billing_reason:t collection_method:t created:ts currency:t custom_fields:j \
         customer:r customer_account:t customer_address.city:t customer_address.country:t \
         customer_address.line1:t customer_address.line2:t customer_address.postal_code:t \
         customer_address.state:t customer_email:t customer_name:t customer_phone:t \
         customer_tax_exempt:t customer_tax_ids:j default_payment_method:r default_source:r \
         default_tax_rates:j description:t discounts:j due_date:ts effective_at:ts \
         ending_balance:i footer:t from_invoice.action:t from_invoice.invoice:r \
         hosted_invoice_url:t invoice_pdf:t issuer.type:t last_finalization_error:j \
         latest_revision:r livemode:b metadata:j next_payment_attempt:ts number:t object:t \
         on_behalf_of:r parent:j payment_settings:j period_end:ts period_start:ts \
         post_payment_credit_notes_amount:i pre_payment_credit_notes_amount:i \
         receipt_number:t rendering:j shipping_cost.amount_subtotal:i \
         shipping_cost.amount_tax:i shipping_cost.amount_total:i \
         shipping_cost.shipping_rate:t starting_balance:i statement_descriptor:t status:t \
         status_transitions.finalized_at:ts status_transitions.marked_uncollectible_at:ts \
         status_transitions.paid_at:ts status_transitions.voided_at:ts subscription:r \
         subtotal:i subtotal_excluding_tax:i test_clock:r total:i total_discount_amounts:j \
         total_excluding_tax:i total_pretax_credit_amounts:j total_taxes:j \
         webhooks_delivered_at:ts",
    ),
    (
        "invoice_line_item",
        "amount:i currency:t description:t discount_amounts:j discountable:b discounts:j \
         invoice:r livemode:b metadata:j object:t parent:j period.end:ts period.start:ts \
         pretax_credit_amounts:j pricing.type:t pricing.unit_amount_decimal:t quantity:i \
         quantity_decimal:t subscription:r subtotal:i taxes:j",
    ),
    (
        "invoiceitem",
        "amount:i currency:t customer:r customer_account:t date:ts description:t \
         discountable:b discounts:j invoice:r livemode:b metadata:j net_amount:i object:t \
         parent:j period.end:ts period.start:ts pricing.type:t pricing.unit_amount_decimal:t \
         proration:b quantity:i quantity_decimal:n tax_rates:j test_clock:r",
    ),
    (
        "charge",
        "amount:i amount_captured:i amount_refunded:i application:r application_fee:r \
         application_fee_amount:i balance_transaction:r billing_details:j \
         calculated_statement_descriptor:t captured:b created:ts currency:t customer:r \
         description:t disputed:b failure_balance_transaction:r failure_code:t \
         failure_message:t livemode:b metadata:j object:t on_behalf_of:r \
         outcome.advice_code:t outcome.network_advice_code:t outcome.network_decline_code:t \
         outcome.network_status:t outcome.reason:t outcome.seller_message:t outcome.type:t \
         paid:b payment_intent:r payment_method:r payment_method_details:j receipt_email:t \
         receipt_number:t receipt_url:t refunded:b refunds:j review:r source:j \
         source_transfer:r statement_descriptor:t statement_descriptor_suffix:t status:t \
         transfer_data:j transfer_group:t",
    ),
    (
        "refund",
        "amount:i balance_transaction:r charge:r created:ts currency:t customer:r \
         customer_account:t destination_details:j metadata:j object:t payment_intent:r \
         payment_method:r reason:t receipt_number:t source_transfer_reversal:r status:t \
         transfer_reversal:r",
    ),
    (
        "dispute",
        "amount:i balance_transactions:j charge:r created:ts currency:t \
         enhanced_eligibility_types:a evidence:j evidence_details:j is_charge_refundable:b \
         livemode:b metadata:j object:t payment_intent:r payment_method_details:j reason:t \
         status:t",
    ),
    (
        "payment_intent",
        "amount:i amount_capturable:i amount_details:j amount_received:i application:r \
         application_fee_amount:i automatic_payment_methods.enabled:b canceled_at:ts \
         cancellation_reason:t capture_method:t client_secret:t confirmation_method:t \
         created:ts currency:t customer:r customer_account:t description:t \
         excluded_payment_method_types:a last_payment_error:j latest_charge:r livemode:b \
         managed_payments.enabled:b metadata:j next_action:j object:t on_behalf_of:r \
         payment_method:r payment_method_configuration_details.id:t \
         payment_method_configuration_details.parent:t payment_method_types:a processing:j \
         receipt_email:t review:r setup_future_usage:t source:t statement_descriptor:t \
         statement_descriptor_suffix:t status:t transfer_data:j transfer_group:t",
    ),
    (
        "setup_intent",
        "application:r automatic_payment_methods.enabled:b cancellation_reason:t \
         client_secret:t created:ts customer:r description:t excluded_payment_method_types:a \
         flow_directions:j last_setup_error:j latest_attempt:r livemode:b mandate:r \
         metadata:j next_action:j object:t on_behalf_of:r payment_method:r \
         payment_method_configuration_details.id:t \
         payment_method_configuration_details.parent:t payment_method_types:a \
         single_use_mandate:r status:t usage:t",
    ),
    (
        "payment_method",
        "allow_redisplay:t billing_details:j card:j created:ts customer:r customer_account:t \
         livemode:b metadata:j object:t type:t",
    ),
    (
        "balance_transaction",
        "amount:i available_on:ts balance_type:t created:ts currency:t description:t \
         exchange_rate:n fee:i fee_details:j net:i object:t reporting_category:t source:r \
         status:t type:t",
    ),
    (
        "payout",
        "amount:i application_fee:r application_fee_amount:i arrival_date:ts automatic:b \
         balance_transaction:r created:ts currency:t description:t destination:r \
         failure_balance_transaction:r failure_code:t failure_message:t livemode:b metadata:j \
         method:t object:t original_payout:r payout_method:t reconciliation_status:t \
         reversed_by:r source_type:t statement_descriptor:t status:t trace_id.status:t \
         trace_id.value:t type:t",
    ),
    (
        "credit_note",
        "amount:i amount_shipping:i created:ts currency:t customer:r customer_account:t \
         customer_balance_transaction:r discount_amount:i discount_amounts:j effective_at:ts \
         invoice:r lines:j livemode:b memo:t metadata:j number:t object:t \
         out_of_band_amount:i pdf:t post_payment_amount:i pre_payment_amount:i \
         pretax_credit_amounts:j reason:t refunds:j shipping_cost.amount_subtotal:i \
         shipping_cost.amount_tax:i shipping_cost.amount_total:i \
         shipping_cost.shipping_rate:t status:t subtotal:i subtotal_excluding_tax:i total:i \
         total_excluding_tax:i total_taxes:j type:t voided_at:ts",
    ),
    (
        "tax_rate",
        "active:b country:t created:ts description:t display_name:t effective_percentage:n \
         flat_amount.amount:i flat_amount.currency:t inclusive:b jurisdiction:t \
         jurisdiction_level:t livemode:b metadata:j object:t percentage:n rate_type:t state:t \
         tax_type:t",
    ),
    (
        "checkout_session",
        "adaptive_pricing.enabled:b after_expiration:j allow_promotion_codes:b \
         amount_subtotal:i amount_total:i automatic_tax:j billing_address_collection:t \
         cancel_url:t client_reference_id:t client_secret:t collected_information:j \
         consent.promotions:t consent.terms_of_service:t consent_collection:j created:ts \
         currency:t currency_conversion.amount_subtotal:i currency_conversion.amount_total:i \
         currency_conversion.fx_rate:n currency_conversion.source_currency:t custom_fields:j \
         custom_text:j customer:r customer_account:t customer_creation:t customer_details:j \
         customer_email:t discounts:j expires_at:ts integration_identifier:t invoice:r \
         invoice_creation:j livemode:b locale:t managed_payments.enabled:b metadata:j mode:t \
         object:t origin_context:t payment_intent:r payment_link:r \
         payment_method_collection:t payment_method_configuration_details.id:t \
         payment_method_configuration_details.parent:t payment_method_types:a \
         payment_status:t permissions.update_shipping_details:t \
         phone_number_collection.enabled:b recovered_from:t \
         saved_payment_method_options.allow_redisplay_filters:t \
         saved_payment_method_options.payment_method_remove:t \
         saved_payment_method_options.payment_method_save:t setup_intent:r \
         shipping_address_collection:j shipping_cost.amount_subtotal:i \
         shipping_cost.amount_tax:i shipping_cost.amount_total:i \
         shipping_cost.shipping_rate:t shipping_options:j status:t submit_type:t \
         subscription:r success_url:t total_details.amount_discount:i \
         total_details.amount_shipping:i total_details.amount_tax:i ui_mode:t url:t",
    ),
];
