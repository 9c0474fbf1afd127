// Key Vault (RBAC) with the deployment's secrets; the managed identity may read them (Key Vault Secrets User).
// An empty secret value is not stored: the setting that would reference it is not created either.

param name string
param location string
param readerPrincipalId string

@secure()
@description('Secret name -> value (a secure object: values stay out of deployment logs and outputs).')
param secrets object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource stored 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for secret in filter(items(secrets), s => !empty(s.value)): {
  parent: vault
  name: secret.key
  properties: { value: secret.value }
}]

// Key Vault Secrets User
var secretsUserRole = '4633458b-17de-408a-b874-0445c86b69e6'

resource readSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, readerPrincipalId, secretsUserRole)
  properties: {
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUserRole)
  }
}

output name string = vault.name
output vaultUri string = vault.properties.vaultUri
