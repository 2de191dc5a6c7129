#!/usr/bin/env node
import { createDrivetrainApp } from '../lib/drivetrain-app';

createDrivetrainApp().app.synth();
