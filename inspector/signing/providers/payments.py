"""Entries for payments and commerce: Stripe, Paddle, Square, PayPal, Shopify and others."""

from inspector.signing.providers.model import BodyKeys, BodyValue, HasHeader, Provider
from inspector.signing.schemes import AdyenItems, Fields, Header, Hmac, SdkRules, Unverifiable, Window

STRIPE = Provider(
    id="stripe",
    name="Stripe",
    docs="https://docs.stripe.com/webhooks#verify-manually",
    detect=((HasHeader("Stripe-Signature"),), (HasHeader("User-Agent", startswith="Stripe/"),)),
    # The whsec_ secret is used verbatim as the key (unlike Standard Webhooks). Stripe's SDK
    # signs the timestamp's integer value and rejects only old ones (any future time passes).
    schemes=(
        Hmac(
            signature=Fields("Stripe-Signature", grammar="stripe"),
            template="{ts}.{body}",
            timestamp_format="int",
            tolerance=300,
            window=Window(300, None),
            label="Stripe t=,v1=",
            sdk=SdkRules("stripe", signed_ts="whole"),
        ),
    ),
    event=("body:type",),
    delivery_id=("body:id",),
    known="SDK oracle",
    secret="the endpoint's signing secret (whsec_…)",
)

PADDLE = Provider(
    id="paddle",
    name="Paddle",
    docs="https://developer.paddle.com/webhooks/signature-verification",
    detect=((HasHeader("Paddle-Signature"),),),
    schemes=(
        Hmac(
            signature=Fields("Paddle-Signature", sig_key="h1", ts_key="ts", pair_sep=";", grammar="paddle"),
            template="{ts}:{body}",
            timestamp_format="int",
            tolerance=5,
            label="Paddle ts=;h1=",
            sdk=SdkRules("paddle-python-sdk", signed_ts="whole"),
        ),
    ),
    event=("body:event_type",),
    delivery_id=("body:notification_id", "body:event_id"),
    known="SDK oracle",
    secret="the notification destination secret (pdl_ntfset_…)",
)

SQUARE = Provider(
    id="square",
    name="Square",
    docs="https://developer.squareup.com/docs/webhooks/step3validate",
    detect=((HasHeader("x-square-hmacsha256-signature"),), (HasHeader("x-square-signature"),)),
    schemes=(
        Hmac(
            signature=Header("x-square-hmacsha256-signature"),
            template="{url}{body}",
            encoding="base64",
            label="Square HMAC-SHA256 of URL + body",
            sdk=SdkRules("squareup", nonempty_body=True),
        ),
        Hmac(
            signature=Header("x-square-signature"),
            template="{url}{body}",
            algorithm="sha1",
            encoding="base64",
            label="Square HMAC-SHA1 (legacy)",
            sdk=SdkRules("squareup", refuses="squareup checks only x-square-hmacsha256-signature"),
        ),
    ),
    event=("body:type",),
    delivery_id=("body:event_id",),
    known="official vector",
    secret="the subscription's signature key",
)

PAYPAL = Provider(
    id="paypal",
    name="PayPal",
    docs="https://developer.paypal.com/api/rest/webhooks/rest/",
    detect=((HasHeader("PAYPAL-TRANSMISSION-SIG"),), (HasHeader("PAYPAL-TRANSMISSION-ID"),)),
    schemes=(
        Unverifiable(
            Header("PAYPAL-TRANSMISSION-SIG"),
            reason="PayPal signs with an RSA certificate fetched from "
            "PAYPAL-CERT-URL and your webhook ID, which Hookloupe does not "
            "fetch",
            label="PayPal SHA256withRSA",
        ),
    ),
    event=("body:event_type",),
    delivery_id=("header:PAYPAL-TRANSMISSION-ID",),
)

COINBASE_COMMERCE = Provider(
    id="coinbase-commerce",
    name="Coinbase Commerce",
    docs="https://docs.cdp.coinbase.com/commerce-onchain/docs/webhooks-security",
    detect=((HasHeader("X-CC-Webhook-Signature"),),),
    schemes=(
        Hmac(
            signature=Header("X-CC-Webhook-Signature"),
            label="Coinbase Commerce HMAC-SHA256 hex",
            sdk=SdkRules("coinbase-commerce"),
        ),
    ),
    event=("body:event.type",),
    delivery_id=("body:event.id", "body:id"),
    known="SDK oracle",
    secret="the shared secret from Settings",
)

RAZORPAY = Provider(
    id="razorpay",
    name="Razorpay",
    docs="https://razorpay.com/docs/webhooks/validate-test/",
    detect=((HasHeader("X-Razorpay-Signature"),), (HasHeader("X-Razorpay-Event-Id"),)),
    schemes=(
        Hmac(signature=Header("X-Razorpay-Signature"), label="Razorpay HMAC-SHA256 hex", sdk=SdkRules("razorpay")),
    ),
    event=("body:event",),
    delivery_id=("header:X-Razorpay-Event-Id",),
    known="SDK oracle",
)

ADYEN = Provider(
    id="adyen",
    name="Adyen",
    docs="https://docs.adyen.com/development-resources/webhooks/secure-webhooks/verify-hmac-signatures",
    detect=((BodyKeys(("live", "notificationItems")),), (HasHeader("HmacSignature"),)),
    schemes=(
        AdyenItems(),
        Hmac(
            signature=Header("HmacSignature"),
            encoding="base64",
            keys=("hex",),
            label="Adyen HmacSignature header",
            sdk=SdkRules("Adyen", utf8_body=False),  # its payload check hashes bytes
        ),
    ),
    event=("body:notificationItems.0.NotificationRequestItem.eventCode", "body:type"),
    delivery_id=("body:notificationItems.0.NotificationRequestItem.pspReference",),
    known="official vector",
    secret="the HMAC key (hex)",
)

MOLLIE = Provider(
    id="mollie",
    name="Mollie",
    docs="https://docs.mollie.com/reference/webhooks-new",
    detect=((HasHeader("X-Mollie-Signature"),),),
    schemes=(
        Hmac(
            signature=Header("X-Mollie-Signature", prefix="sha256=", optional_prefix=True),
            label="Mollie HMAC-SHA256 hex",
        ),
    ),
    event=("body:type",),
    delivery_id=("body:id",),
)

LEMON_SQUEEZY = Provider(
    id="lemon-squeezy",
    name="Lemon Squeezy",
    docs="https://docs.lemonsqueezy.com/help/webhooks/signing-requests",
    detect=(
        (HasHeader("X-Event-Name"), HasHeader("X-Signature")),
        (HasHeader("X-Signature"), BodyValue("meta.event_name")),
    ),
    schemes=(Hmac(signature=Header("X-Signature"), label="Lemon Squeezy HMAC-SHA256 hex"),),
    event=("header:X-Event-Name", "body:meta.event_name"),
    delivery_id=("body:data.id",),
    secret="the webhook signing secret",
)

WOOCOMMERCE = Provider(
    id="woocommerce",
    name="WooCommerce",
    docs="https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks",
    detect=((HasHeader("X-WC-Webhook-Signature"),), (HasHeader("X-WC-Webhook-Topic"),)),
    schemes=(
        Hmac(signature=Header("X-WC-Webhook-Signature"), encoding="base64", label="WooCommerce HMAC-SHA256 base64"),
    ),
    event=("header:X-WC-Webhook-Topic",),
    delivery_id=("header:X-WC-Webhook-Delivery-ID",),
)

SHOPIFY = Provider(
    id="shopify",
    name="Shopify",
    docs="https://shopify.dev/docs/apps/build/webhooks/subscribe/https",
    detect=((HasHeader("X-Shopify-Hmac-Sha256"),), (HasHeader("X-Shopify-Topic"),)),
    schemes=(Hmac(signature=Header("X-Shopify-Hmac-Sha256"), encoding="base64", label="Shopify HMAC-SHA256 base64"),),
    event=("header:X-Shopify-Topic",),
    delivery_id=("header:X-Shopify-Webhook-Id", "header:X-Shopify-Event-Id"),
    secret="the app's client secret (or the store's webhook signing key)",
)

XERO = Provider(
    id="xero",
    name="Xero",
    docs="https://developer.xero.com/documentation/guides/webhooks/configuring-your-server/",
    detect=((HasHeader("x-xero-signature"),),),
    schemes=(Hmac(signature=Header("x-xero-signature"), encoding="base64", label="Xero HMAC-SHA256 base64"),),
    event=("body:events.0.eventCategory+body:events.0.eventType",),
    delivery_id=("body:events.0.resourceId",),
    secret="the webhook key",
)

PLAID = Provider(
    id="plaid",
    name="Plaid",
    docs="https://plaid.com/docs/api/webhooks/webhook-verification/",
    detect=((HasHeader("Plaid-Verification"),), (BodyKeys(("webhook_type", "webhook_code", "item_id")),)),
    schemes=(
        Unverifiable(
            Header("Plaid-Verification"),
            reason="Plaid signs with an ES256 JWT whose key must be fetched from "
            "Plaid's API, which Hookloupe does not do",
            label="Plaid ES256 JWT",
        ),
    ),
    event=("body:webhook_type+body:webhook_code",),
    delivery_id=("body:item_id",),
)

ENTRIES = (
    STRIPE,
    PADDLE,
    SQUARE,
    PAYPAL,
    COINBASE_COMMERCE,
    RAZORPAY,
    ADYEN,
    MOLLIE,
    LEMON_SQUEEZY,
    WOOCOMMERCE,
    SHOPIFY,
    XERO,
    PLAID,
)
