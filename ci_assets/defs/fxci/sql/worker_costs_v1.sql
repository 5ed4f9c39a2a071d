-- worker_costs_v1 for one usage day (the submission_date parameter): the GCP billing export
-- UNION ALL the two Azure cost exports (see shared/reference/fxci/worker_costs.md). BigQuery dialect; locally
-- the SQL runner transpiles it for DuckDB. Table names in braces come from the source assets.
-- (No at-sign in these comments: the BigQuery emulator counts one there as a parameter.)
WITH gcp AS (
  SELECT
    project.id AS project,
    IFNULL(REGEXP_EXTRACT(resource.name, r"/instances/(.+)$"), resource.name) AS name,
    REGEXP_EXTRACT(resource.global_name, r"/zones/([^/]+)") AS zone,
    REGEXP_EXTRACT(resource.global_name, r"/instances/([^/]+)") AS instance_id,
    DATE(usage_start_time) AS usage_start_date,
    cost + IFNULL((SELECT SUM(c.amount) FROM UNNEST(credits) AS c), 0) AS cost
  FROM `{gcp_billing}`
  WHERE DATE(usage_start_time) = @submission_date
    AND project.id IN ("fxci-production-level1-workers", "fxci-production-level3-workers")
    AND STRPOS(resource.global_name, "/instances/") > 0
),
azure AS (
  SELECT lookup.subscriptionName AS project, load.ResourceId, load.resourceLocation,
    load.costInBillingCurrency, DATE(load.`date`) AS usage_start_date
  FROM `{azure_fxci_load}` AS load JOIN `{azure_fxci_lookup}` AS lookup USING (sourceDataId)
  WHERE DATE(load.`date`) = @submission_date AND load.chargeType = "Usage"
  UNION ALL
  SELECT lookup.subscriptionName AS project, load.ResourceId, load.resourceLocation,
    load.costInBillingCurrency, DATE(load.`date`) AS usage_start_date
  FROM `{azure_taskcluster_load}` AS load JOIN `{azure_taskcluster_lookup}` AS lookup USING (sourceDataId)
  WHERE DATE(load.`date`) = @submission_date AND load.chargeType = "Usage"
),
azure_vms AS (
  SELECT
    project,
    REGEXP_EXTRACT(ResourceId, r"(?i)/virtualmachines/([^/]+)$") AS name,
    resourceLocation AS zone,
    REGEXP_EXTRACT(ResourceId, r"(?i)/virtualmachines/([^/]+)$") AS instance_id,
    usage_start_date,
    costInBillingCurrency AS cost
  FROM azure
  WHERE REGEXP_CONTAINS(ResourceId, r"(?i)/virtualmachines/vm-")
)
SELECT project, name, zone, instance_id, SUM(cost) AS total_cost, usage_start_date, "gcp" AS cloud_provider
FROM gcp
GROUP BY name, project, zone, instance_id, usage_start_date
UNION ALL
SELECT project, name, zone, instance_id, SUM(cost) AS total_cost, usage_start_date, "azure" AS cloud_provider
FROM azure_vms
GROUP BY name, project, zone, instance_id, usage_start_date
