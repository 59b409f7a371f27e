@{
    RootModule        = 'TrivialModule.dll'
    ModuleVersion     = '1.0.0'
    GUID              = '0c1d9a54-2f0e-4c59-9d8e-5f7f3a1b6e21'
    Author            = 'KvmHost contributors'
    Description       = 'The smallest binary module, the floor KvmHost''s import is measured against.'
    PowerShellVersion = '7.4'
}
