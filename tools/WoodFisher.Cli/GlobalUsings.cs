global using System.ComponentModel;
global using System.Globalization;
global using Spectre.Console.Cli;
global using WoodFisher.Cli.Infrastructure;
global using WoodFisher.Cli.Options;
