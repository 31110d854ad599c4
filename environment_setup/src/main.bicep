// The Azure resources the CI/CD pipelines use: an Azure ML workspace linked to its
// storage account, Key Vault, Application Insights (on Log Analytics) and container
// registry, plus the training cluster. Deployed by
// environment_setup/pipelines/iac-create-environment-pipeline-arm.yml (what-if first).
//
// Names are derived from the resource group and baseName with uniqueString, so
// deploying again updates the same resources instead of clashing on a taken name.
// Suppressed checkov checks say why in place: this is a proof of concept on public
// endpoints and standard SKUs, not a production landing zone.

targetScope = 'resourceGroup'

@description('Short prefix of every resource name: lowercase letters and digits.')
@minLength(3)
@maxLength(10)
param baseName string

@description('Azure region of every resource.')
param location string = resourceGroup().location

@description('Name of the Azure ML workspace (WORKSPACE_NAME in the pipelines).')
param workspaceName string = 'mlw-${baseName}'

@description('Name of the training cluster (AML_COMPUTE_CLUSTER_NAME).')
param computeClusterName string = 'train-cluster'

@description('VM size of the training cluster (AML_COMPUTE_CLUSTER_CPU_SKU).')
param computeClusterVmSize string = 'STANDARD_DS2_V2'

@description('Fewest nodes of the training cluster; 0 bills nothing while idle.')
@minValue(0)
param computeClusterMinNodes int = 0

@description('Most nodes of the training cluster.')
@minValue(1)
param computeClusterMaxNodes int = 4

@description('Days Log Analytics keeps the logs.')
@minValue(30)
param logRetentionDays int = 30

var suffix = uniqueString(resourceGroup().id, baseName)
var prefix = toLower(baseName)
var storageAccountName = take('st${prefix}${suffix}', 24)
var keyVaultName = take('kv-${prefix}-${suffix}', 24)
var containerRegistryName = take('cr${prefix}${suffix}', 50)
var logAnalyticsName = 'log-${baseName}-${suffix}'
var applicationInsightsName = 'appi-${baseName}-${suffix}'

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
  }
}

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: POC on public endpoints: the workspace and CI agents reach the storage over HTTPS with Entra ID; network rules need private endpoints or a VNet
  // checkov:skip=CKV_AZURE_206: POC: locally redundant storage; everything in it can be recreated from the repository and the team server
  // checkov:skip=CKV_AZURE_43: the name is st + baseName + uniqueString, lowercased and cut to 24 characters, which checkov cannot evaluate
  name: storageAccountName
  location: location
  sku: {
    name: 'Standard_LRS'
  }
  kind: 'StorageV2'
  properties: {
    supportsHttpsTrafficOnly: true
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: true
    encryption: {
      keySource: 'Microsoft.Storage'
      services: {
        blob: {
          enabled: true
        }
        file: {
          enabled: true
        }
      }
    }
  }
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: POC on public endpoints: access is by Entra ID RBAC; firewall rules need private endpoints for the workspace
  // checkov:skip=CKV_AZURE_189: POC on public endpoints: the workspace reaches the vault without a private endpoint
  name: keyVaultName
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
  }
}

resource containerRegistry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  // checkov:skip=CKV_AZURE_139: POC on public endpoints: disabling public access needs the Premium SKU and private endpoints
  // checkov:skip=CKV_AZURE_163: POC: image scanning is Microsoft Defender for Containers, a paid plan not bought here
  // checkov:skip=CKV_AZURE_166: POC: quarantine needs the Premium SKU; only Azure ML builds images into this registry
  name: containerRegistryName
  location: location
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false
  }
}

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-04-01' = {
  // checkov:skip=CKV_AZURE_243: POC on public endpoints: a private endpoint needs a VNet and private DNS zones the POC does not create
  name: workspaceName
  location: location
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    friendlyName: workspaceName
    storageAccount: storageAccount.id
    keyVault: keyVault.id
    applicationInsights: applicationInsights.id
    containerRegistry: containerRegistry.id
  }
}

resource computeCluster 'Microsoft.MachineLearningServices/workspaces/computes@2024-04-01' = {
  parent: workspace
  name: computeClusterName
  location: location
  properties: {
    computeType: 'AmlCompute'
    properties: {
      vmSize: computeClusterVmSize
      vmPriority: 'LowPriority'
      scaleSettings: {
        minNodeCount: computeClusterMinNodes
        maxNodeCount: computeClusterMaxNodes
        nodeIdleTimeBeforeScaleDown: 'PT120S'
      }
    }
  }
}

output workspaceName string = workspace.name
output storageAccountName string = storageAccount.name
output keyVaultName string = keyVault.name
output containerRegistryName string = containerRegistry.name
output applicationInsightsName string = applicationInsights.name
output computeClusterName string = computeCluster.name
