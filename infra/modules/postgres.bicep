// Azure Database for PostgreSQL flexible server with Microsoft Entra sign-in only (no password exists).
// The managed identity is the Entra administrator so `peercoach db upgrade` can create the schema; for least
// privilege make a group the administrator and grant the identity a role instead (docs/deploy.md).

param serverName string
param location string
param databaseName string
param skuName string
param skuTier string
param entraAdminName string
param entraAdminObjectId string
param tenantId string

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: serverName
  location: location
  sku: { name: skuName, tier: skuTier }
  properties: {
    version: '16'
    storage: { storageSizeGB: 32, autoGrow: 'Enabled' }
    backup: { backupRetentionDays: 7, geoRedundantBackup: 'Disabled' }
    highAvailability: { mode: 'Disabled' }
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: tenantId
    }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: { charset: 'UTF8', collation: 'en_US.utf8' }
}

// Lets Azure services (App Service, Container Apps outbound addresses) connect; use private networking instead
// when the subscription has a virtual network for it.
resource azureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }
}

resource entraAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  name: entraAdminObjectId
  dependsOn: [database, azureServices]
  properties: {
    principalName: entraAdminName
    principalType: 'ServicePrincipal'
    tenantId: tenantId
  }
}

output fqdn string = server.properties.fullyQualifiedDomainName
