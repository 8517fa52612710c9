// The resource tree of every dataset group, read through the control plane's List and Describe operations.

import {ApiError, control, listAll} from "./api.js";

let recommendersAnswered = true; // false once the server says ListRecommenders is not implemented

async function recommenders(group) {
  if (!group.domain || !recommendersAnswered) return [];
  try {
    return await listAll("ListRecommenders", {datasetGroupArn: group.datasetGroupArn}, "recommenders");
  } catch (err) {
    if (err instanceof ApiError && err.type === "NotImplementedException") {
      recommendersAnswered = false;
      return [];
    }
    throw err;
  }
}

/** ``promise``, or ``fallback`` when the resource was deleted meanwhile (it leaves the tree at the next poll). */
async function unlessGone(promise, fallback) {
  try {
    return await promise;
  } catch (err) {
    if (err instanceof ApiError && err.type === "ResourceNotFoundException") return fallback;
    throw err;
  }
}

async function dataset(summary) {
  const [importJobs, exportJobs] = await Promise.all([
    unlessGone(listAll("ListDatasetImportJobs", {datasetArn: summary.datasetArn}, "datasetImportJobs"), []),
    unlessGone(listAll("ListDatasetExportJobs", {datasetArn: summary.datasetArn}, "datasetExportJobs"), []),
  ]);
  return {...summary, importJobs, exportJobs};
}

async function campaign(summary) {
  const answer = await unlessGone(control("DescribeCampaign", {campaignArn: summary.campaignArn}), {});
  return {...summary, ...(answer.campaign || {})};
}

async function solution(summary) {
  const [versions, campaigns] = await Promise.all([
    unlessGone(listAll("ListSolutionVersions", {solutionArn: summary.solutionArn}, "solutionVersions"), []),
    unlessGone(listAll("ListCampaigns", {solutionArn: summary.solutionArn}, "campaigns"), []),
  ]);
  const withJobs = await Promise.all(versions.map(async (version) => ({
    ...version,
    batchJobs: await unlessGone(listAll(
      "ListBatchInferenceJobs", {solutionVersionArn: version.solutionVersionArn}, "batchInferenceJobs"), []),
  })));
  withJobs.sort((a, b) => (b.creationDateTime || 0) - (a.creationDateTime || 0));
  return {...summary, versions: withJobs, campaigns: await Promise.all(campaigns.map(campaign))};
}

async function group(summary) {
  const arn = {datasetGroupArn: summary.datasetGroupArn};
  const [datasets, solutions, trackers, filters, recs] = await Promise.all([
    unlessGone(listAll("ListDatasets", arn, "datasets"), []),
    unlessGone(listAll("ListSolutions", arn, "solutions"), []),
    unlessGone(listAll("ListEventTrackers", arn, "eventTrackers"), []),
    unlessGone(listAll("ListFilters", arn, "Filters"), []),
    recommenders(summary),
  ]);
  const byName = (a, b) => String(a.name).localeCompare(String(b.name));
  return {
    ...summary,
    datasets: await Promise.all(datasets.sort(byName).map(dataset)),
    solutions: await Promise.all(solutions.sort(byName).map(solution)),
    trackers: trackers.sort(byName),
    filters: filters.sort(byName),
    recommenders: recs.sort(byName),
  };
}

/** Every dataset group with its datasets, jobs, solutions, versions, campaigns, trackers and filters. */
export async function loadSnapshot() {
  const groups = await listAll("ListDatasetGroups", {}, "datasetGroups");
  groups.sort((a, b) => String(a.name).localeCompare(String(b.name)));
  // A resource deleted between a List and its Describe is simply left for the next poll.
  return {groups: await Promise.all(groups.map(group))};
}

/** What the playground can call: ACTIVE campaigns and recommenders, with their dataset group and recipe. */
export function servables(snapshot) {
  const out = [];
  for (const g of snapshot.groups) {
    for (const sol of g.solutions) {
      for (const c of sol.campaigns) {
        if (c.status !== "ACTIVE") continue;
        out.push({kind: "campaign", arn: c.campaignArn, name: c.name, group: g, recipeArn: sol.recipeArn,
          solutionArn: sol.solutionArn, config: c.campaignConfig || {}});
      }
    }
    for (const r of g.recommenders) {
      if (r.status !== "ACTIVE") continue;
      out.push({kind: "recommender", arn: r.recommenderArn, name: r.name, group: g, recipeArn: r.recipeArn,
        config: r.recommenderConfig || {}});
    }
  }
  return out;
}
