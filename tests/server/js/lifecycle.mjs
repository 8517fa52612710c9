// The AWS SDK for JavaScript v3 against `python -m personalize_kit serve` (tests/server/test_js_sdk.py):
// reads a campaign, asks for recommendations, sends events, asks again; prints what it saw as JSON.
// Environment: SERVER_URL, CAMPAIGN_ARN, TRACKING_ID, USER_ID, ITEMS (comma-separated, sent as events).
import { PersonalizeClient, DescribeCampaignCommand } from "@aws-sdk/client-personalize";
import { PersonalizeRuntimeClient, GetRecommendationsCommand } from "@aws-sdk/client-personalize-runtime";
import { PersonalizeEventsClient, PutEventsCommand } from "@aws-sdk/client-personalize-events";

const env = process.env;
const config = { endpoint: env.SERVER_URL, region: "us-east-1",
  credentials: { accessKeyId: "testing", secretAccessKey: "testing" } };
const personalize = new PersonalizeClient(config);
const runtime = new PersonalizeRuntimeClient(config);
const events = new PersonalizeEventsClient(config);

const recommend = async () => (await runtime.send(new GetRecommendationsCommand({
  campaignArn: env.CAMPAIGN_ARN, userId: env.USER_ID, numResults: 10 }))).itemList.map((i) => i.itemId);

const campaign = (await personalize.send(new DescribeCampaignCommand({ campaignArn: env.CAMPAIGN_ARN }))).campaign;
const before = await recommend();
const items = env.ITEMS.split(",");
const now = Date.now();
await events.send(new PutEventsCommand({
  trackingId: env.TRACKING_ID, userId: env.USER_ID, sessionId: "js-session",
  eventList: items.map((itemId, k) => ({ eventType: "watch", itemId, sentAt: new Date(now - (items.length - k) * 1000) })),
}));
const after = await recommend();

let missing = null;
try {
  await personalize.send(new DescribeCampaignCommand({ campaignArn: env.CAMPAIGN_ARN + "-missing" }));
} catch (err) {
  missing = { name: err.name, status: err.$metadata?.httpStatusCode, message: err.message };
}
console.log(JSON.stringify({ campaign: { name: campaign.name, status: campaign.status,
  created: campaign.creationDateTime instanceof Date }, before, after, missing }));
